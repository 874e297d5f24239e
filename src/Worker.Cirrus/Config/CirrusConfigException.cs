namespace Worker.Cirrus.Config;

/// <summary>
/// The worker YAML (or a flag) can't be used. The message is the one line an operator sees, naming
/// the file and line (<c>worker.yml:7: unknown key 'tokn'</c>) or the flag; the command exits 2.
/// </summary>
public sealed class CirrusConfigException(string message) : Exception(message);
