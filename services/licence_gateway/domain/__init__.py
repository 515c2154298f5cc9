"""Pure logic: formats, rules and calculations. No I/O here."""
