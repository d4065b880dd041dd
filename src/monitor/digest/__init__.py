"""The daily digest email: who gets it (config), what it says (contents, render), how it
leaves (mail), when and exactly how often (schedule, sending)."""
