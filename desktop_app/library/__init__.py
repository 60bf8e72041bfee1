"""The personal tag library: SQLite memory of photos, suggestions and the user's decisions.

`store.TagLibrary` is the API; `ranking` (pure scoring functions), `neighbours` (k-NN over
embeddings) and `migrations` (the schema) are its parts. Importing this package does not import
NumPy-heavy modules or open anything; import `desktop_app.library.store` for the class.
"""
