"""Math answers: find the final answer in a completion (`extraction`), decide whether it equals the
gold answer (`equivalence`)."""
