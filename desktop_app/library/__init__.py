"""The personal tag library: SQLite memory of photos, suggestions and the user's decisions.

`store.TagLibrary` is the API (store.py's docstring lists its parts, one module per idea);
`ranking` holds the pure scoring functions. Importing this package does not import NumPy-heavy
modules or open anything; import `desktop_app.library.store` for the class.
"""
