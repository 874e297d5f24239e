namespace Worker.Vm;

/// <summary>One VM's record: the labels other backends put on the machine itself.</summary>
public sealed record VmRecord(string Name, string Tool, int Pid, Dictionary<string, string> Labels);
