"""`shiplane dashboard`: a local web app over what `history`, `status`, `diff` and `metrics` read.

Top layer beside `cli` (it may import actions and observing, never click or rich): `views` builds
what each page shows from release records and live objects (pure), `charts` draws the DORA charts as
inline SVG (pure), `sources` reads a stage (records cached briefly, the live status behind one adapter
function, the watch stream behind the server-sent events), `app` is the Starlette application.
"""
