"""Backends, embedded children, logging, metrics, mail and other plumbing every domain uses."""
