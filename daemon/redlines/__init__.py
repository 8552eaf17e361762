"""Red lines: the policy's "never do this" list, compiled to Landlock rules,
fanotify protections and systemd directives, launched, guarded and drilled."""
