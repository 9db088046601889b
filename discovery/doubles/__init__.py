"""Test doubles, apart from the product: a mock OpenAI-compatible server (the real wire
protocol on 127.0.0.1), scripted answers, and the synthetic campaign generator behind
`discover demo`. Product code reaches them only when a user asks for one by name.
"""
