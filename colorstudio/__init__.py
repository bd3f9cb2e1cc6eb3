"""ColorStudio: colorize grayscale photographs with local neural models."""

from colorstudio.errors import ColorStudioError, ColorStudioWarning

__version__ = "0.1.0"
__all__ = ["ColorStudioError", "ColorStudioWarning", "__version__"]
