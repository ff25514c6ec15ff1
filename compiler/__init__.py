"""tlsc: compile one cluster spec into each sendmail host's STARTTLS configuration."""

__version__ = "0.1.0"
