"""Ingest: one parser and one batched, idempotent writer shared by MQTT, HTTP and CSV import."""
