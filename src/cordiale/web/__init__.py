"""The programmes web app (Django): calls, applications, reviews, PhDs, exchanges, money, grants, outputs."""
