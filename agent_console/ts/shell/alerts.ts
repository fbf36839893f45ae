import { h } from "../../../signaling/client/dom";
/**
 * How an offer gets the agent's attention beyond the page: a ring tone made with a WebAudio
 * oscillator (no audio file), and desktop notifications while the page is hidden, with the
 * permission asked only from the agent's own click. Owns the audio context and notifications.
 */


const RING_EVERY_MS = 2500;

/** Rings while any offer is open; silent (never an error) where audio is not allowed yet. */
export class Ringer {
  private audio: AudioContext | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  ringing = false;

  constructor(private readonly onChange: (ringing: boolean) => void = () => undefined) {
    // Browsers only let a page start audio after a user gesture: the context is created on
    // the first one, so the ring never trips the autoplay policy (nor logs about it).
    const prime = (): void => {
      if (this.audio !== null || typeof AudioContext === "undefined") return;
      try {
        this.audio = new AudioContext();
        if (this.ringing) this.beep();
      } catch {
        this.audio = null;
      }
    };
    for (const type of ["pointerdown", "keydown"]) window.addEventListener(type, prime, { capture: true });
  }

  set(on: boolean): void {
    if (on === this.ringing) return;
    this.ringing = on;
    clearInterval(this.timer);
    this.timer = undefined;
    if (on) {
      this.beep();
      this.timer = setInterval(() => this.beep(), RING_EVERY_MS);
    }
    this.onChange(on);
  }

  /** Two short tones, like a desk phone. */
  private beep(): void {
    const audio = this.audio;
    if (audio === null) return;
    if (audio.state === "suspended") void audio.resume().catch(() => undefined);
    const start = audio.currentTime + 0.02;
    for (const [offset, freq] of [[0, 880], [0.35, 660]] as const) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.2, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.32);
    }
  }
}

function notificationsSupported(): boolean {
  return typeof window.Notification === "function";
}

/** Desktop notifications for offers while the page is hidden; one per interaction. */
export class DesktopNotifier {
  private readonly shown = new Map<string, Notification>();

  /** Shows one if allowed and the agent is looking elsewhere; clicking it brings the page up. */
  notify(interaction: string, title: string, body: string): void {
    if (!notificationsSupported() || Notification.permission !== "granted" || !document.hidden) return;
    try {
      const note = new Notification(title, { body, tag: `engage-offer-${interaction}`, requireInteraction: true });
      note.onclick = () => {
        window.focus();
        note.close();
      };
      this.shown.set(interaction, note);
    } catch {
      // some platforms only allow notifications from a service worker: the ring still sounds
    }
  }

  close(interaction: string): void {
    this.shown.get(interaction)?.close();
    this.shown.delete(interaction);
  }

  /**
   * The "Enable desktop notifications" button and its status line. The permission prompt
   * comes only from this click: browsers ignore (and penalise) prompts without a gesture.
   */
  control(): HTMLElement {
    const status = h("p", { class: "hint", "data-testid": "notification-status" });
    const button = h("button", { type: "button", class: "secondary" }, "Enable desktop notifications");
    const el = h("div", { class: "notifications" }, button, status);
    const show = (): void => {
      if (!notificationsSupported()) {
        button.hidden = true;
        status.textContent = "This browser cannot show desktop notifications.";
        return;
      }
      const permission = Notification.permission;
      button.hidden = permission !== "default";
      status.textContent = permission === "granted" ? "Desktop notifications are on."
        : permission === "denied" ? "Desktop notifications are blocked in this browser's site settings." : "";
    };
    button.addEventListener("click", () => {
      void Notification.requestPermission().then(show, show);
    });
    show();
    return el;
  }
}
