"""Material definition files (TOML) of kmc; see README.md here."""
