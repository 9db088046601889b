"""Prompt templates, shipped as package data: one folder per purpose, plain text files."""
