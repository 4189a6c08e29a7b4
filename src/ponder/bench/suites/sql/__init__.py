"""The ``sql`` suite: questions over a generated e-commerce database (SQLite, or DuckDB through
a DSN), judged by running the model's query read-only and comparing its rows with the gold
query's, Spider-style."""
