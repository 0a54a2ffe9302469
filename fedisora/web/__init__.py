"""fedisora's own HTML pages."""
