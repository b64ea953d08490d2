"""Fixtures every tier can use: throwaway databases (SQLite, PostgreSQL), a local S3 server
and a local fake of Gemini's REST API."""

pytest_plugins = ["tests.support.databases", "tests.support.s3", "tests.support.fake_gemini"]
