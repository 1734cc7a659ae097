"""The case loop: intake, one case as a caller sees it, its states and who moves them,
dispatch to grid workers, deadlines on China's working calendar, categories, photos, the
case desk's lists and the figures per unit."""
