using System.Collections;

namespace LoraRecipes.Recipes;

/// <summary>
/// An immutable list compared by its items, so that records holding lists (target modules, metrics,
/// samples) compare by value.
/// </summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] _items;

    /// <summary>Copies <paramref name="items"/>.</summary>
    public ValueList(IEnumerable<T> items) => _items = items.ToArray();

    /// <summary>The empty list.</summary>
    public static ValueList<T> Empty { get; } = new([]);

    /// <inheritdoc/>
    public int Count => _items.Length;

    /// <inheritdoc/>
    public T this[int index] => _items[index];

    /// <summary>Wraps an array (copied).</summary>
    public static implicit operator ValueList<T>(T[] items) => new(items);

    /// <inheritdoc/>
    public bool Equals(ValueList<T>? other) => other is not null && _items.SequenceEqual(other._items);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is ValueList<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var item in _items)
        {
            hash.Add(item);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <inheritdoc/>
    public override string ToString() => $"[{string.Join(", ", _items)}]";
}
