"""LLM-as-judge metrics: single-answer grading, pairwise preference, agreement with people."""
