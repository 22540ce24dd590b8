//! Folders: names, trees on both sides, and the map from source to destination.
