"""Staff accounts, sessions and sign-in."""
