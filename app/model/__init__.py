"""Qt-free document and session state."""
