"""The personal tag library: SQLite memory of photos, suggestions and the user's decisions."""
