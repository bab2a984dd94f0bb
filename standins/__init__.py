"""Local stand-ins for the services Liquid Book talks to, served over real HTTP for tests."""
