"""The situation room (一张图): the live panel's snapshot, the map's resources and overlay."""
