"""Analysis: pure functions over result frames, shared by the CLI, the TUI and reports."""
