"""chainrule's networks (in progress)."""
