"""Permission policy: modes, workspace rules, secrets, and the shell command-line parser the deny rules use."""
