namespace LoraRecipes.Tests;

/// <summary>The seeded mutation the fuzz loops share: one to three byte deletions, insertions or overwrites.</summary>
internal static class ByteMutation
{
    public static byte[] Mutate(byte[] original, Random random)
    {
        var bytes = original.ToList();
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits && bytes.Count > 0; e++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(3))
            {
                case 0: bytes.RemoveAt(at); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                default: bytes[at] = (byte)random.Next(256); break;
            }
        }
        return bytes.ToArray();
    }
}
