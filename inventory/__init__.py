"""The SQL inventory: the only code that speaks SQL."""
