"""The record's storage: one schema on SQLite (FTS5) or PostgreSQL (tsvector), versioned
migrations run at start-up, and the queries the record stage, the API and the page share."""
