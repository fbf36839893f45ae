"""Which SDP bodies and ICE candidates a call may carry (pure: parsing and limits, no I/O)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from engage.errors import EngageError

MAX_SDP_BYTES = 64 * 1024
MAX_MEDIA_SECTIONS = 20
MAX_PAYLOAD_TYPES = 64  # per m= line; real offers carry about 20
MAX_SDP_CANDIDATES = 50  # a=candidate lines in one description
MAX_CANDIDATES_PER_SIDE = 200  # trickled and embedded, per call and side
MAX_CANDIDATE_CHARS = 512
MAX_CANDIDATE_EXTENSIONS = 16  # name/value pairs after the standard fields

_LINE = re.compile(r"^[a-z]=[^\x00-\x08\x0a-\x1f\x7f]*$")
_MEDIA = re.compile(r"^m=([a-z]{1,16}) ([0-9]{1,5})(?:/[0-9]{1,3})? ([A-Za-z0-9/]{1,32})"
                    r"((?: [^ ]{1,64})+)$")
_RTPMAP = re.compile(r"^a=(?:rtpmap|fmtp|rtcp-fb):([^ ]+) ")
_FINGERPRINT = re.compile(r"^a=fingerprint:(?:sha-1|sha-224|sha-256|sha-384|sha-512) "
                          r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){15,63}$")
_FOUNDATION = re.compile(r"^[A-Za-z0-9+/]{1,32}$")
_MDNS = re.compile(r"^[A-Za-z0-9-]{1,63}\.local$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,256}$")
CANDIDATE_TYPES = frozenset({"host", "srflx", "prflx", "relay"})
TCP_TYPES = frozenset({"active", "passive", "so"})


class SdpRefused(EngageError):
    """The session description is not acceptable."""

    code = "invalid_sdp"
    http_status = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class CandidateRefused(EngageError):
    """The ICE candidate is not acceptable."""

    code = "invalid_candidate"
    http_status = 400

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class TooManyCandidates(EngageError):
    """This side of the call has sent as many ICE candidates as a call may have."""

    code = "too_many_candidates"
    http_status = 429


@dataclass(frozen=True)
class Candidate:
    """One parsed ``candidate:`` line (RFC 8839 grammar)."""

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str = ""
    related_port: int | None = None
    tcp_type: str = ""


@dataclass(frozen=True)
class SdpSummary:
    """What an accepted description holds: its media kinds and how many candidates."""

    media: tuple[str, ...]
    candidates: int


def _refuse(reason: str, message: str) -> SdpRefused:
    return SdpRefused(reason, message)


def _text(sdp: str | bytes) -> str:
    if isinstance(sdp, str):
        try:
            raw = sdp.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates survive JSON but are not UTF-8
            raise _refuse("not_utf8", "the SDP is not valid UTF-8") from None
    else:
        raw = sdp
    if len(raw) > MAX_SDP_BYTES:
        raise _refuse("too_large", f"the SDP is {len(raw)} bytes; the limit is {MAX_SDP_BYTES}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse("not_utf8", "the SDP is not valid UTF-8") from None


def _payload_type(token: str) -> int:
    if not token.isascii() or not token.isdigit() or len(token) > 3 or int(token) > 127:
        raise _refuse("bad_payload_type", f"payload type {token[:8]!r} is not in 0-127")
    return int(token)


def check_sdp(sdp: str | bytes, *, relayed: bool = False) -> SdpSummary:
    """The summary of an acceptable offer or answer, or SdpRefused with a ``reason``.

    ``relayed``: the media terminates at the server (recording peer), so its candidates
    must be reachable from it (see ``check_candidate``).
    """
    if not sdp.strip():
        raise _refuse("empty", "the SDP is empty")
    text = _text(sdp)
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise _refuse("malformed", "an SDP starts with v=0")
    media: list[str] = []
    session_fingerprint = False
    section_fingerprint: list[bool] = []
    needs_fingerprint: list[bool] = []
    candidates: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not _LINE.match(line):
            raise _refuse("malformed", f"line {number} is not a <type>=<value> SDP line")
        if line.startswith("m="):
            kind, port = _media_line(line)
            media.append(kind)
            if len(media) > MAX_MEDIA_SECTIONS:
                raise _refuse("too_many_media",
                              f"more than {MAX_MEDIA_SECTIONS} m= sections")
            section_fingerprint.append(False)
            needs_fingerprint.append(port != 0)
        elif line.startswith("a=fingerprint:"):
            if not _FINGERPRINT.match(line):
                raise _refuse("no_fingerprint", f"line {number} is not a valid fingerprint")
            if media:
                section_fingerprint[-1] = True
            else:
                session_fingerprint = True
        elif line.startswith("a=candidate:"):
            candidates.append(line[2:])
        elif (match := _RTPMAP.match(line)) is not None:
            _payload_type(match.group(1))
    if not media:
        raise _refuse("no_media", "the SDP has no m= section")
    if len(candidates) > MAX_SDP_CANDIDATES:
        raise _refuse("too_many_candidates",
                      f"{len(candidates)} candidates; at most {MAX_SDP_CANDIDATES} in one SDP")
    for own, needed in zip(section_fingerprint, needs_fingerprint, strict=True):
        if needed and not (own or session_fingerprint):
            raise _refuse("no_fingerprint", "every media section needs an a=fingerprint "
                                            "(DTLS-SRTP is mandatory)")
    for line in candidates:
        try:
            check_candidate(line, relayed=relayed)
        except CandidateRefused as exc:
            raise _refuse("bad_candidate", f"{exc.message} ({exc.reason})") from None
    return SdpSummary(media=tuple(media), candidates=len(candidates))


def _media_line(line: str) -> tuple[str, int]:
    match = _MEDIA.match(line)
    if match is None:
        raise _refuse("malformed", "an m= line is <media> <port> <proto> <fmt>...")
    kind, port, proto, formats = match.group(1), int(match.group(2)), match.group(3), \
        match.group(4).split()
    if port > 65535:
        raise _refuse("malformed", f"m= port {port} is out of range")
    if len(formats) > MAX_PAYLOAD_TYPES:
        raise _refuse("too_many_payload_types",
                      f"{len(formats)} formats on one m= line; at most {MAX_PAYLOAD_TYPES}")
    if "RTP" in proto:
        for token in formats:
            _payload_type(token)
    return kind, port


def _bad(reason: str, message: str) -> CandidateRefused:
    return CandidateRefused(reason, message)


def check_address(address: str, *, relayed: bool = False) -> None:
    """An IP literal or an mDNS ``.local`` name. Loopback, link-local and unspecified
    addresses are refused only when the server's own peer would have to reach them;
    between two browsers they are merely useless."""
    if _MDNS.match(address):
        return
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise _bad("address", "the address is neither an IP address nor an mDNS "
                              ".local name") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_multicast or (isinstance(ip, ipaddress.IPv4Address)
                           and ip == ipaddress.IPv4Address("255.255.255.255")):
        raise _bad("address", "a candidate address cannot be multicast or broadcast")
    if relayed and (ip.is_loopback or ip.is_link_local or ip.is_unspecified):
        raise _bad("address", "loopback, link-local and unspecified addresses are not "
                              "accepted on a relayed call")


def _port(token: str, *, allow_zero: bool = False) -> int:
    if not token.isascii() or not token.isdigit() or len(token) > 5:
        raise _bad("port", "a port is a number")
    port = int(token)
    if port > 65535 or (port == 0 and not allow_zero):
        raise _bad("port", f"port {port} is out of range")
    return port


def check_candidate(line: str, *, relayed: bool = False) -> Candidate:
    """The parsed candidate of a ``candidate:`` line, or CandidateRefused with a ``reason``."""
    if len(line) > MAX_CANDIDATE_CHARS:
        raise _bad("grammar", f"a candidate line is at most {MAX_CANDIDATE_CHARS} characters")
    if not line.startswith("candidate:"):
        raise _bad("grammar", "a candidate line starts with 'candidate:'")
    fields = line[len("candidate:"):].split(" ")
    if len(fields) < 8 or fields[6] != "typ" or not all(fields):
        raise _bad("grammar", "candidate:<foundation> <component> <transport> <priority> "
                              "<address> <port> typ <type> [...]")
    foundation, component, transport, priority, address, port = fields[:6]
    if not _FOUNDATION.match(foundation):
        raise _bad("grammar", "the foundation is 1-32 ICE characters")
    if component not in ("1", "2"):
        raise _bad("component", "the component is 1 (RTP) or 2 (RTCP)")
    transport = transport.lower()
    if transport not in ("udp", "tcp"):
        raise _bad("transport", "the transport is udp or tcp")
    if not priority.isascii() or not priority.isdigit() or not 0 < int(priority) < 2**32:
        raise _bad("grammar", "the priority is a number in 1..2^32-1")
    check_address(address, relayed=relayed)
    kind = fields[7]
    if kind not in CANDIDATE_TYPES:
        raise _bad("type", "the type is host, srflx, prflx or relay")
    extra = fields[8:]
    if len(extra) % 2 or len(extra) > 2 * MAX_CANDIDATE_EXTENSIONS:
        raise _bad("grammar", "attributes after the type come in name/value pairs")
    related_address, related_port, tcp_type = "", None, ""
    for name, value in zip(extra[::2], extra[1::2], strict=True):
        if not _TOKEN.match(name) or not _TOKEN.match(value):
            raise _bad("grammar", "attribute names and values are printable tokens")
        if name == "raddr":
            related_address = value  # informational (browsers send 0.0.0.0 to hide it)
        elif name == "rport":
            related_port = _port(value, allow_zero=True)
        elif name == "tcptype":
            if value not in TCP_TYPES:
                raise _bad("transport", "tcptype is active, passive or so")
            tcp_type = value
    return Candidate(foundation=foundation, component=int(component), transport=transport,
                     priority=int(priority), address=address, port=_port(port),
                     type=kind, related_address=related_address, related_port=related_port,
                     tcp_type=tcp_type)
