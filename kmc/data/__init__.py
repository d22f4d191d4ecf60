"""Data files of kmc: tabulated experimental conductivities (experimental.toml)."""
