"""Helpers the tests share: making events happen and running their deliveries in the test
process (`tests.support.delivery`), and the facts the contexts announce (`tests.support.facts`)."""
