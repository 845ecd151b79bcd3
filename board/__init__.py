"""idealoop's Streamlit board: pages render; all reads and writes go through tracker/."""
