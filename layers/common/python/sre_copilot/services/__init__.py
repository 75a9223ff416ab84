"""Application services: each Lambda handler calls exactly one function here."""
