"""The project as a whole: packaging, import graph, docs tables, deploy examples, bench report."""
