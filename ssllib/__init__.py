"""ssllib."""
