"""The district's people and partner organisations: grid workers, stationed officers,
party branches, and the sectors they serve."""
