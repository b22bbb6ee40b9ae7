"""One handler per intent, turning a classified message into a reply."""
