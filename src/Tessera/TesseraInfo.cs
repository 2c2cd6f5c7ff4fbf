namespace Tessera; /// <summary>Library marker.</summary>
public static class TesseraInfo { /// <summary>Library version.</summary>
public const string Version = "0.1.0"; }
