"""Matchmaking: expertise profiles, candidate pairs across partners, explanations, evaluation."""
