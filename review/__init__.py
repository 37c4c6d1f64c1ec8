"""A static review site for `chartcoder run` results: the chart text with every code's evidence
highlighted, the codes' notes, HCCs and opportunities, and a coder's accept/reject decisions
kept in the browser. Pure Python writing HTML, CSS and JS; no server, no network."""
