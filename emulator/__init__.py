"""The Meta stand-in: Graph API, Messenger webhook traffic, and the ground truth to compare against."""
