"""Instruction-following constraints (IFEval, open-instruct's IFEvalG, Tülu 3's older functions):
`checks` holds the checks by id, `ifeval` reads ground truths and scores responses, `legacy` the
older Tülu 3 functions, `text` how responses are split into words, sentences and paragraphs."""
