"""Map pages: the offline map factory and the pages built on it (incidents, hotspots).

>>> from geo.maps import offline_map, render_html
"""

from geo.maps.offline import offline_map, render_html

__all__ = ["offline_map", "render_html"]
