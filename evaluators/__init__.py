"""Running untrusted candidate programs safely and scoring them; one folder per task domain."""
