"""The programmes app: partners and people, calls, reviews, projects, PhDs, exchanges, money, outputs."""
